using System;
using Fiberws.Native;

namespace Fiberws
{
    /// <summary>
    /// Result codes. 0 is success; failures are negative. The list is append-only: codes are never renumbered
    /// or removed. fws_result_name() gives the name of a code; fws_last_error() the message of the last failure.
    /// </summary>
    [CEnum("fws_result", "FWS_")]
    public enum ResultCode
    {
        /// <summary>Success.</summary>
        Ok = 0,
        /// <summary>An argument is NULL, out of range, or a handle that is not (or no longer) valid.</summary>
        ErrInvalidArgument = -1,
        /// <summary>The connection is closed; for reads, fws_conn_close_code() tells the peer's close code (1006 if TCP dropped).</summary>
        ErrClosed = -2,
        /// <summary>A write after a close frame was sent (gorilla's ErrCloseSent).</summary>
        ErrCloseSent = -3,
        /// <summary>A message exceeded the read limit; the connection was closed with 1009 (ErrReadLimit).</summary>
        ErrReadLimit = -4,
        /// <summary>The opening handshake was invalid (ErrBadHandshake).</summary>
        ErrBadHandshake = -5,
        /// <summary>A deadline or timeout expired.</summary>
        ErrTimeout = -6,
        /// <summary>The key, name or value asked for is absent. Out-values are still set (to "" / NULL).</summary>
        ErrNotFound = -7,
        /// <summary>The call is not allowed in the object's current state (e.g. adding a route while listening).</summary>
        ErrInvalidState = -8,
        /// <summary>A system call failed (bind, listen, ...); the message names it and the errno text.</summary>
        ErrIo = -9,
        /// <summary>The peer broke the protocol; the connection was closed with 1002 or 1007.</summary>
        ErrProtocol = -10,
        /// <summary>An internal failure inside the library; the message says what.</summary>
        ErrInternal = -11,
        /// <summary>A caller-provided buffer is too small; the needed size is reported where the function says.</summary>
        ErrBufferTooSmall = -12,
        /// <summary>Another thread is already reading this connection (one reader at a time).</summary>
        ErrBusy = -13,
        /// <summary>The message was not queued: the connection's buffered bytes exceed the route's max_backpressure (event API).</summary>
        ErrBackpressure = -14,
        /// <summary>Not a failure: the message being read piece by piece (fws_conn_next_reader) has no more bytes.</summary>
        EndOfMessage = -15,
    }

    /// <summary>WebSocket message types (RFC 6455 opcodes), as in gorilla/fasthttp websocket.</summary>
    [CEnum("fws_message_type", "FWS_")]
    public enum MessageType
    {
        TextMessage = 1,
        BinaryMessage = 2,
        CloseMessage = 8,
        PingMessage = 9,
        PongMessage = 10,
    }

    /// <summary>Close codes of RFC 6455 §7.4.1 / §11.7, with gorilla's names.</summary>
    [CEnum("fws_close_code", "FWS_")]
    public enum CloseCode
    {
        CloseNormalClosure = 1000,
        CloseGoingAway = 1001,
        CloseProtocolError = 1002,
        CloseUnsupportedData = 1003,
        CloseNoStatusReceived = 1005,
        CloseAbnormalClosure = 1006,
        CloseInvalidFramePayloadData = 1007,
        ClosePolicyViolation = 1008,
        CloseMessageTooBig = 1009,
        CloseMandatoryExtension = 1010,
        CloseInternalServerErr = 1011,
        CloseServiceRestart = 1012,
        CloseTryAgainLater = 1013,
        CloseTlsHandshake = 1015,
    }

    /// <summary>
    /// The exception of the managed API. Code says what kind of failure it is; CloseCode is the WebSocket close
    /// code involved (the peer's, or the one the server sent), 0 when none.
    /// </summary>
    public sealed class FwsException : Exception
    {
        public FwsException(ResultCode code, string message, int closeCode = 0)
            : base(message)
        {
            Code = code;
            CloseCode = closeCode;
        }

        public ResultCode Code { get; }

        public int CloseCode { get; }
    }
}
