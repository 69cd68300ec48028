using System.Buffers;
using System.Net.Sockets;
using System.Text;

namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>
/// One HTTP/1.1 connection of <see cref="Http1Client"/>: writes a request, reads the answer's head and
/// discards its body (RFC 9112 §6: Content-Length, chunked, or until the connection ends). One thread at
/// a time uses it.
/// </summary>
/// <param name="timeoutMs">The send and receive timeouts the socket was connected with.</param>
internal sealed class Http1Connection(Socket socket, Stream stream, int timeoutMs) : IDisposable
{
    private const int MaxHead = 64 * 1024;
    private const int MaxBodyToDrain = 1 << 20;

    private byte[] _buf = new byte[4096];
    private int _start;
    private int _end;
    private int _timeoutMs = timeoutMs;

    /// <summary>When it went back to the idle list (<see cref="Environment.TickCount64"/>).</summary>
    public long IdleSince { get; set; }

    /// <summary>Whether any byte of an answer came for the request being sent (it may have been acted on).</summary>
    public bool AnswerStarted { get; private set; }

    /// <summary>An idle connection the server has closed is readable (its end) with no answer pending.</summary>
    public bool LooksAlive()
    {
        try
        {
            return !socket.Poll(0, SelectMode.SelectRead);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    public void Write(byte[] head, ReadOnlySpan<byte> body, long deadline)
    {
        AnswerStarted = false;
        _start = _end = 0;
        KeepTo(deadline);
        if (body.Length <= 16 * 1024)
        {
            // One write, so one segment on the wire for the usual small envelope.
            var total = head.Length + body.Length;
            var one = ArrayPool<byte>.Shared.Rent(total);
            try
            {
                head.CopyTo(one, 0);
                body.CopyTo(one.AsSpan(head.Length));
                stream.Write(one, 0, total);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(one);
            }
        }
        else
        {
            stream.Write(head);
            stream.Write(body);
        }
        stream.Flush();
    }

    /// <summary>
    /// Sets the socket's send and receive timeouts to what is left before <paramref name="deadline"/>,
    /// unless they are within a quarter of it already: requests with the same timeout, one after
    /// another, then make no system call for it (<see cref="Fill"/> checks the deadline between reads).
    /// </summary>
    private void KeepTo(long deadline)
    {
        var left = Http1Client.Remaining(deadline);
        if (Math.Abs(left - _timeoutMs) <= _timeoutMs / 4)
            return;
        socket.SendTimeout = socket.ReceiveTimeout = left;
        _timeoutMs = left;
    }

    /// <summary>Reads the final answer (skipping 1xx ones) and its body; says whether the connection can be used again.</summary>
    public Http1Client.Response ReadResponse(long deadline, out bool keepAlive)
    {
        KeepTo(deadline);
        while (true)
        {
            var headEnd = FindHeadEnd(deadline);
            var (version11, status, reason, headers) = ParseHead(_buf.AsSpan(_start, headEnd - _start));
            _start = headEnd + 4;
            if (status is >= 100 and < 200 and not 101)
                continue;
            headers.TryGetValue("Connection", out var connection);
            keepAlive = version11
                ? connection is null || !connection.Contains("close", StringComparison.OrdinalIgnoreCase)
                : connection is not null && connection.Contains("keep-alive", StringComparison.OrdinalIgnoreCase);
            if (status is not (204 or 304) && !DrainBody(headers, deadline))
                keepAlive = false;
            if (_start != _end)
                keepAlive = false;   // more than was asked for: the connection's state is unknown
            return new Http1Client.Response(status, reason, headers);
        }
    }

    /// <summary>Reads the answer's body and lets it go; false when the connection cannot be used again after it.</summary>
    private bool DrainBody(Dictionary<string, string> headers, long deadline)
    {
        if (headers.TryGetValue("Transfer-Encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            DrainChunked(deadline);
            return true;
        }
        if (headers.TryGetValue("Content-Length", out var cl))
        {
            if (!long.TryParse(cl.Split(',')[0].Trim(), out var length) || length < 0)
                throw new IOException($"the answer's Content-Length is not a number: {cl}");
            if (length > MaxBodyToDrain)
                return false;   // not worth reading: a new connection is cheaper
            Skip((int)length, deadline);
            return true;
        }
        // The body runs to the connection's end: read up to the limit, then the connection is closed.
        try
        {
            var read = _end - _start;
            _start = _end;
            while (read < MaxBodyToDrain && Fill(deadline) is var n and > 0)
            {
                read += n;
                _start = _end;
            }
        }
        catch (IOException)
        {
            // what the answer said is known already
        }
        return false;
    }

    private int FindHeadEnd(long deadline)
    {
        var searched = 0;   // from _start: Fill may move what is buffered to the front
        while (true)
        {
            var at = _buf.AsSpan(_start + searched, _end - _start - searched).IndexOf("\r\n\r\n"u8);
            if (at >= 0)
                return _start + searched + at;
            searched = Math.Max(0, _end - _start - 3);
            if (_end - _start >= MaxHead)
                throw new IOException("the answer's head is larger than 64 KiB");
            if (Fill(deadline) == 0)
                throw new IOException(AnswerStarted ? "the connection ended inside the answer's head" : "the server closed the connection without answering");
        }
    }

    private static (bool Version11, int Status, string Reason, Dictionary<string, string> Headers) ParseHead(ReadOnlySpan<byte> head)
    {
        var eol = head.IndexOf("\r\n"u8);
        var statusLine = Encoding.Latin1.GetString(eol < 0 ? head : head[..eol]);
        // HTTP/1.1 200 OK
        if (statusLine.Length < 12 || !statusLine.StartsWith("HTTP/1.", StringComparison.Ordinal) || statusLine[8] != ' '
            || !int.TryParse(statusLine.AsSpan(9, 3), out var status))
            throw new IOException($"not an HTTP/1.x answer: {(statusLine.Length > 60 ? statusLine[..60] : statusLine)}");
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var rest = eol < 0 ? default : head[(eol + 2)..];
        while (!rest.IsEmpty)
        {
            eol = rest.IndexOf("\r\n"u8);
            var line = eol < 0 ? rest : rest[..eol];
            rest = eol < 0 ? default : rest[(eol + 2)..];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0)
                continue;
            var name = Encoding.Latin1.GetString(line[..colon].Trim((byte)' '));
            var value = Encoding.Latin1.GetString(line[(colon + 1)..].Trim(" \t"u8));
            headers[name] = headers.TryGetValue(name, out var before) ? before + ", " + value : value;
        }
        return (statusLine[7] == '1', status, statusLine.Length > 13 ? statusLine[13..] : "", headers);
    }

    private void DrainChunked(long deadline)
    {
        long total = 0;
        while (true)
        {
            var line = ReadLine(deadline);
            var semi = line.IndexOf(';');
            if (!long.TryParse(semi < 0 ? line.Trim() : line[..semi].Trim(), System.Globalization.NumberStyles.AllowHexSpecifier, null, out var size) || size < 0)
                throw new IOException($"a chunk's size is not a number: {line}");
            if (size == 0)
                break;
            total += size;
            if (total > MaxBodyToDrain)
                throw new IOException("the answer's body is larger than 1 MiB");
            Skip((int)size, deadline);
            if (ReadLine(deadline).Length != 0)
                throw new IOException("a chunk does not end where its size says");
        }
        while (ReadLine(deadline).Length != 0)
        {
            // trailer fields, not used
        }
    }

    private string ReadLine(long deadline)
    {
        while (true)
        {
            var at = _buf.AsSpan(_start, _end - _start).IndexOf("\r\n"u8);
            if (at >= 0)
            {
                var line = Encoding.Latin1.GetString(_buf, _start, at);
                _start += at + 2;
                return line;
            }
            if (_end - _start >= 8192)
                throw new IOException("a line of the answer is too long");
            if (Fill(deadline) == 0)
                throw new IOException("the connection ended inside the answer's body");
        }
    }

    private void Skip(int count, long deadline)
    {
        while (true)
        {
            var take = Math.Min(count, _end - _start);
            _start += take;
            count -= take;
            if (count == 0)
                return;
            if (Fill(deadline) == 0)
                throw new IOException("the connection ended inside the answer's body");
        }
    }

    /// <summary>Reads more after what is buffered (moving it to the front, growing the buffer up to the head's limit); 0 at the connection's end.</summary>
    private int Fill(long deadline)
    {
        if (_start == _end)
            _start = _end = 0;
        else if (_start > 0 && _end == _buf.Length)
        {
            Buffer.BlockCopy(_buf, _start, _buf, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buf.Length)
            Array.Resize(ref _buf, Math.Min(MaxHead + 4, _buf.Length * 2));
        if (Environment.TickCount64 >= deadline)
            throw new IOException("the request timed out");
        int n;
        try
        {
            n = stream.Read(_buf, _end, _buf.Length - _end);
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.TimedOut or SocketError.WouldBlock })
        {
            throw new IOException("the request timed out", e);
        }
        if (n > 0)
            AnswerStarted = true;
        _end += n;
        return n;
    }

    public void Dispose()
    {
        stream.Dispose();
        socket.Dispose();
    }
}
