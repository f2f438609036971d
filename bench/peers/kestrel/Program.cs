// Kestrel WebSocket echo server for the fiberws benchmarks.
//   kestrel-echo --urls http://127.0.0.1:PORT
// Echoes every message (accumulating fragmented messages up to 64 MiB) on /echo and /ws/{id};
// prints "listening on PORT" once Kestrel accepts connections.
using System.Buffers;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();
app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });

const int MaxMessage = 64 << 20;

async Task Echo(HttpContext ctx)
{
    if (!ctx.WebSockets.IsWebSocketRequest)
    {
        ctx.Response.StatusCode = 400;
        return;
    }
    using var ws = await ctx.WebSockets.AcceptWebSocketAsync();
    var buf = ArrayPool<byte>.Shared.Rent(4096);
    try
    {
        while (true)
        {
            int len = 0;
            ValueWebSocketReceiveResult r;
            do
            {
                if (len == buf.Length)
                {
                    if (buf.Length >= MaxMessage)
                    {
                        await ws.CloseAsync(WebSocketCloseStatus.MessageTooBig, null, CancellationToken.None);
                        return;
                    }
                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buf.Length * 2, MaxMessage));
                    buf.AsSpan(0, len).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buf);
                    buf = bigger;
                }
                r = await ws.ReceiveAsync(buf.AsMemory(len), CancellationToken.None);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    if (ws.State == WebSocketState.CloseReceived)
                        await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                    return;
                }
                len += r.Count;
            } while (!r.EndOfMessage);
            await ws.SendAsync(buf.AsMemory(0, len), r.MessageType, true, CancellationToken.None);
        }
    }
    catch (WebSocketException)
    {
    }
    finally
    {
        ArrayPool<byte>.Shared.Return(buf);
    }
}

app.Map("/echo", Echo);
app.Map("/ws/{id}", Echo);

app.Lifetime.ApplicationStarted.Register(() =>
{
    var addrs = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
    var port = new Uri(addrs.First()).Port;
    Console.WriteLine($"listening on {port}");
    Console.Out.Flush();
});
app.Run();
