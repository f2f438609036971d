using System.Text;

namespace Fiberws.Http
{
    /// <summary>Plain HTTP/1.1 answers (errors, refusals, middleware statuses) with a short text body.</summary>
    public static class HttpResponse
    {
        /// <summary>A response with a body of any type (plain HTTP routes); with head, the body is left out (HEAD).</summary>
        public static byte[] BuildContent(int status, string contentType, byte[] body, bool keepAlive, bool head)
        {
            var sb = new StringBuilder(160);
            sb.Append("HTTP/1.1 ").Append(status).Append(' ').Append(ReasonPhrase(status)).Append("\r\n");
            sb.Append("Content-Type: ").Append(contentType).Append("\r\n");
            sb.Append("Content-Length: ").Append(body.Length).Append("\r\n");
            sb.Append("Cache-Control: no-cache\r\n");
            if (!keepAlive)
            {
                sb.Append("Connection: close\r\n");
            }
            sb.Append("\r\n");
            byte[] headBytes = Encoding.ASCII.GetBytes(sb.ToString());
            if (head)
            {
                return headBytes;
            }
            byte[] all = new byte[headBytes.Length + body.Length];
            headBytes.CopyTo(all, 0);
            body.CopyTo(all, headBytes.Length);
            return all;
        }

        public static byte[] Build(int status, string? body, string extraHeaders, bool keepAlive)
        {
            string reason = ReasonPhrase(status);
            string text = string.IsNullOrEmpty(body) ? reason : body;
            byte[] bodyBytes = Encoding.UTF8.GetBytes(text);
            var sb = new StringBuilder(128 + bodyBytes.Length);
            sb.Append("HTTP/1.1 ").Append(status).Append(' ').Append(reason).Append("\r\n");
            sb.Append("Content-Type: text/plain; charset=utf-8\r\n");
            sb.Append("Content-Length: ").Append(bodyBytes.Length).Append("\r\n");
            if (!keepAlive)
            {
                sb.Append("Connection: close\r\n");
            }
            sb.Append(extraHeaders);
            sb.Append("\r\n");
            byte[] head = Encoding.ASCII.GetBytes(sb.ToString());
            byte[] all = new byte[head.Length + bodyBytes.Length];
            head.CopyTo(all, 0);
            bodyBytes.CopyTo(all, head.Length);
            return all;
        }

        public static string ReasonPhrase(int status) => status switch
        {
            200 => "OK",
            204 => "No Content",
            301 => "Moved Permanently",
            302 => "Found",
            304 => "Not Modified",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            413 => "Content Too Large",
            414 => "URI Too Long",
            426 => "Upgrade Required",
            429 => "Too Many Requests",
            431 => "Request Header Fields Too Large",
            500 => "Internal Server Error",
            501 => "Not Implemented",
            503 => "Service Unavailable",
            505 => "HTTP Version Not Supported",
            _ => "Status " + status,
        };
    }
}
