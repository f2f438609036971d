// Kestrel WebSocket echo server for the fiberws benchmarks.
//   kestrel-echo --urls http://127.0.0.1:PORT [--compress] [--broadcast]
// Echoes every message (accumulating fragmented messages up to 64 MiB) on /echo and /ws/{id};
// prints "listening on PORT" once Kestrel accepts connections.
//   --compress   negotiate permessage-deflate (WebSocketAcceptContext.DangerousEnableCompression, defaults:
//                context takeover, 15-bit windows)
//   --broadcast  /echo and /ws/{id} connections only receive: every message read on /publish is queued to each of
//                them (one bounded channel and one writer task per connection, as in gorilla's chat example; a
//                connection whose channel is full is aborted)
using System.Buffers;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

bool compress = args.Contains("--compress");
bool broadcast = args.Contains("--broadcast");
args = args.Where(a => a is not ("--compress" or "--broadcast")).ToArray();

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();
app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });

const int MaxMessage = 64 << 20;
var acceptContext = new WebSocketAcceptContext { DangerousEnableCompression = compress };
var subscribers = new ConcurrentDictionary<Subscriber, byte>();

// Reads one whole message into buf (grown from the pool as needed); Len -1 on a close frame (Type Close) or an
// oversized message (closed with 1009).
async Task<(byte[] Buf, int Len, WebSocketMessageType Type)> ReadMessage(WebSocket ws, byte[] buf)
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
                return (buf, -1, default);
            }
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buf.Length * 2, MaxMessage));
            buf.AsSpan(0, len).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(buf);
            buf = bigger;
        }
        r = await ws.ReceiveAsync(buf.AsMemory(len), CancellationToken.None);
        if (r.MessageType == WebSocketMessageType.Close)
        {
            return (buf, -1, WebSocketMessageType.Close);
        }
        len += r.Count;
    } while (!r.EndOfMessage);
    return (buf, len, r.MessageType);
}

async Task Echo(HttpContext ctx)
{
    if (!ctx.WebSockets.IsWebSocketRequest)
    {
        ctx.Response.StatusCode = 400;
        return;
    }
    if (broadcast)
    {
        await Subscribe(ctx);
        return;
    }
    // the echo loop is inlined (as before the broadcast mode was added): ReadMessage would cost a Task per message
    using var ws = await ctx.WebSockets.AcceptWebSocketAsync(acceptContext);
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

async Task Subscribe(HttpContext ctx)
{
    using var ws = await ctx.WebSockets.AcceptWebSocketAsync(acceptContext);
    var sub = new Subscriber(ws);
    subscribers.TryAdd(sub, 0);
    Task writer = sub.WriteLoop();
    var buf = ArrayPool<byte>.Shared.Rent(4096);
    try
    {
        while (true)
        {
            var m = await ReadMessage(ws, buf); // subscribers send nothing but the close handshake
            buf = m.Buf;
            if (m.Len < 0)
            {
                subscribers.TryRemove(sub, out _);
                sub.Queue.Writer.TryComplete();
                await writer; // one send at a time: the close goes out after the queued messages
                if (m.Type == WebSocketMessageType.Close && ws.State == WebSocketState.CloseReceived)
                    await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                return;
            }
        }
    }
    catch (WebSocketException)
    {
    }
    finally
    {
        subscribers.TryRemove(sub, out _);
        sub.Queue.Writer.TryComplete();
        ArrayPool<byte>.Shared.Return(buf);
    }
}

async Task Publish(HttpContext ctx)
{
    if (!ctx.WebSockets.IsWebSocketRequest)
    {
        ctx.Response.StatusCode = 400;
        return;
    }
    using var ws = await ctx.WebSockets.AcceptWebSocketAsync(acceptContext);
    var buf = ArrayPool<byte>.Shared.Rent(4096);
    try
    {
        while (true)
        {
            var m = await ReadMessage(ws, buf);
            buf = m.Buf;
            if (m.Len < 0)
            {
                if (m.Type == WebSocketMessageType.Close && ws.State == WebSocketState.CloseReceived)
                    await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                return;
            }
            var msg = new Message(buf.AsSpan(0, m.Len).ToArray(), m.Type);
            foreach (var kv in subscribers)
            {
                if (!kv.Key.Queue.Writer.TryWrite(msg))
                {
                    subscribers.TryRemove(kv.Key, out _);
                    kv.Key.Queue.Writer.TryComplete();
                    kv.Key.Ws.Abort();
                }
            }
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
if (broadcast)
{
    app.Map("/publish", Publish);
}

app.Lifetime.ApplicationStarted.Register(() =>
{
    var addrs = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
    var port = new Uri(addrs.First()).Port;
    Console.WriteLine($"listening on {port}");
    Console.Out.Flush();
});
app.Run();

sealed record Message(byte[] Data, WebSocketMessageType Type);

sealed class Subscriber(WebSocket ws)
{
    public WebSocket Ws { get; } = ws;
    public Channel<Message> Queue { get; } = Channel.CreateBounded<Message>(
        new BoundedChannelOptions(256) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    public async Task WriteLoop()
    {
        try
        {
            await foreach (var m in Queue.Reader.ReadAllAsync())
            {
                await Ws.SendAsync(m.Data, m.Type, true, CancellationToken.None);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }
}
