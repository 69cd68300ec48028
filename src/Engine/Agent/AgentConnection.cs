using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Session;
using PerlSentry.PerlBridge;

namespace PerlSentry.Engine.Agent;

/// <summary>
/// One client interpreter's connection, on a thread of its own: its session, its calls in order,
/// its samples, and the callbacks the session asks it to run (on the same connection, while the
/// call that needs them waits). A client that sends garbage or goes away ends only its own session.
/// </summary>
internal sealed class AgentConnection : IDisposable
{
    private readonly Socket _socket;
    private byte[] _buf = new byte[65536];
    private int _start, _end;
    private uint _lastSeq, _ackedSeq;
    private readonly AgentRegistry _registry;
    private readonly Action<string> _log;
    private readonly CallClock _clock = new();
    private readonly List<string> _warnings = [];
    private EngineSession? _session;
    private RemoteSampler? _sampler;
    private ClientProcess? _process;
    private uint _callbackSeq;
    private bool _clientWaits;   // the call being handled is one the client waits on (so it can run callbacks)

    public AgentConnection(Socket socket, AgentRegistry registry, Action<string> log)
    {
        _socket = socket;
        _registry = registry;
        _log = log;
    }

    public string Name { get; private set; } = "client";

    /// <summary>Serves the connection until the client goes away.</summary>
    public void Run()
    {
        try
        {
            var hello = ReadFrame();
            if (hello is null || hello.Value.Kind != AgentProtocol.Hello)
                return;
            Start(hello.Value.Payload);
            while (ReadFrame() is { } frame)
                Handle(frame.Kind, frame.Payload);
        }
        catch (Exception e) when (e is IOException or SocketException or FormatException or PerlBridgeException or ObjectDisposedException)
        {
            _log($"{Name}: connection ended ({e.Message})");
        }
        finally
        {
            End();
        }
    }

    private void Start(byte[] payload)
    {
        var (v, _) = PerlValueCodec.Read(payload, 8, MakeRef);
        if (Convert.ToInt64(v[0], CultureInfo.InvariantCulture) != AgentProtocol.Version)
            throw new FormatException($"protocol {v[0]} is not {AgentProtocol.Version}");
        var pid = (int)Convert.ToInt64(v[1], CultureInfo.InvariantCulture);
        var tid = Convert.ToInt64(v[2], CultureInfo.InvariantCulture);
        var threadName = v[3] as string ?? "main";
        var perlVersion = v[4] as string ?? "";
        var libDirs = (v[5] as string ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        var origin = v[6] as Dictionary<string, object?>;
        var cwd = v[7] as string ?? "/";
        Name = $"pid {pid} thread {tid}";
        _process = _registry.Join(pid, libDirs, cwd);
        _sampler = new RemoteSampler(_process, tid, threadName, _clock);
        _session = new EngineSession(new SessionHost(() => _sampler, _clock, HostInfo.Current(perlVersion),
            tid.ToString(CultureInfo.InvariantCulture), threadName, libDirs, Warn)
        {
            Transports = _registry.Transports.Get,
        })
        {
            TokenOf = Token,
        };
        if (origin?.GetValueOrDefault("snapshot") is string snapshot)
        {
            try
            {
                SessionSnapshot.Restore(_session, JObject.Parse(snapshot), token => new RemoteRef(this, token, PerlRefKind.Code, null));
                _log($"{Name}: continues a forked parent's session");
            }
            catch (Exception e) when (e is SessionCallException or Newtonsoft.Json.JsonException or InvalidCastException)
            {
                Warn($"Sentry::SDK: this process could not continue its parent's session ({e.Message}); call init again");
            }
        }
        var reply = new ArrayBufferWriter<byte>();
        PerlValueCodec.Write(reply, [Name, SessionCalls.ClientHintBits(_session)], Token);
        WriteTrailer(reply);
        Send(AgentProtocol.HelloOk, reply.WrittenSpan);
    }

    private void Handle(byte kind, byte[] payload)
    {
        switch (kind)
        {
            case AgentProtocol.Call:
                HandleCall(payload);
                break;
            case AgentProtocol.Samples:
                if (payload.Length >= 4)
                    _sampler!.Ingest(payload.AsSpan(4));
                break;
            default:
                break;   // a late callback result (its call gave up), or a frame of a newer client
        }
    }

    private void HandleCall(byte[] payload)
    {
        if (payload.Length < 17)
            throw new FormatException("short call frame");
        var seq = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        _lastSeq = seq;
        var wantsReply = (payload[4] & 1) != 0;
        var listContext = (payload[4] & 2) != 0;
        if ((payload[4] & 4) != 0)
            _sampler?.TakenAhead();
        _clock.CallMonotonicNs = BinaryPrimitives.ReadInt64LittleEndian(payload.AsSpan(5));
        var (head, used) = PerlValueCodec.Read(payload.AsSpan(13), 1, MakeRef);
        var name = head[0] as string ?? "";
        var count = BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(13 + used));
        var (args, _) = PerlValueCodec.Read(payload.AsSpan(17 + used), count, MakeRef);
        byte status = AgentProtocol.StatusOk;
        object? result = null;
        var outerWaits = _clientWaits;
        _clientWaits = wantsReply;
        try
        {
            result = SessionCalls.Call(_session!, name, args);
        }
        catch (SessionCallException e)
        {
            status = AgentProtocol.StatusDied;
            result = e.Message + "\n";
        }
        catch (CallbackAbortedException)
        {
            status = AgentProtocol.StatusExited;   // the client exits; it has said so already
        }
        catch (Exception e) when (e is not (IOException or SocketException))
        {
            _log($"{Name}: {name} failed: {e}");
            status = AgentProtocol.StatusDied;
            result = $"PerlSentry agent: {name} failed ({e.GetType().Name}: {e.Message})\n";
        }
        finally
        {
            _clock.CallMonotonicNs = null;
            _clientWaits = outerWaits;
            _sampler?.SettleAhead();
        }
        if (!wantsReply)
        {
            if (status != AgentProtocol.StatusOk && result is string message)
                Warn("Sentry::SDK: " + message.TrimEnd('\n'));
            return;
        }
        var reply = new ArrayBufferWriter<byte>();
        Span<byte> head9 = stackalloc byte[9];
        BinaryPrimitives.WriteUInt32LittleEndian(head9, seq);
        head9[4] = status;
        object?[] values = status == AgentProtocol.StatusExited ? []
            : listContext && result is object?[] list ? list   // as a list, like the in-process sub in list context
            : [result];
        BinaryPrimitives.WriteInt32LittleEndian(head9[5..], values.Length);
        reply.Write(head9);
        PerlValueCodec.Write(reply, values, Token);
        WriteTrailer(reply);
        Send(AgentProtocol.Reply, reply.WrittenSpan);
    }

    /// <summary>The sampler commands and the warnings made since the last reply.</summary>
    private void WriteTrailer(ArrayBufferWriter<byte> into)
    {
        var commands = _sampler?.TakeCommands() ?? [];
        var head = into.GetSpan(1);
        head[0] = (byte)commands.Count;
        into.Advance(1);
        foreach (var (op, interval, depth) in commands)
        {
            var c = into.GetSpan(9);
            c[0] = op;
            BinaryPrimitives.WriteInt32LittleEndian(c[1..], interval);
            BinaryPrimitives.WriteInt32LittleEndian(c[5..], depth);
            var n = op == AgentProtocol.CommandAcquire ? 9 : 1;
            into.Advance(n);
        }
        string[] warnings;
        lock (_warnings)
        {
            warnings = [.. _warnings];
            _warnings.Clear();
        }
        var w = into.GetSpan(1);
        w[0] = (byte)Math.Min(warnings.Length, 255);
        into.Advance(1);
        PerlValueCodec.Write(into, warnings.Take(255), Token);
        // Which calls must wait, as the session stands after this call (a profiler reconfigured, an event processor added).
        var bits = _session is null ? 0 : SessionCalls.ClientHintBits(_session);
        var h = into.GetSpan(9);
        h[0] = (byte)bits;
        if ((bits & SessionCalls.HintTxStartAhead) != 0)
        {
            // the settings the client's sampler starts with when it takes it ahead of a transaction
            var p = _session!.ProfilingOptions;
            BinaryPrimitives.WriteInt32LittleEndian(h[1..], p.SamplingIntervalUs);
            BinaryPrimitives.WriteInt32LittleEndian(h[5..], p.MaxStackDepth);
            into.Advance(9);
        }
        else
            into.Advance(1);
    }

    /// <summary>Runs a code reference in the client, answering the calls it makes meanwhile, and returns its value.</summary>
    public object? RunCallback(long token, object?[] args)
    {
        if (!_clientWaits)
            throw new InvalidOperationException("the client did not wait for this call, so it cannot run a callback now");
        var seq = ++_callbackSeq;
        var frame = new ArrayBufferWriter<byte>();
        Span<byte> head = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(head, seq);
        BinaryPrimitives.WriteInt64LittleEndian(head[4..], token);
        BinaryPrimitives.WriteInt32LittleEndian(head[12..], args.Length);
        frame.Write(head);
        PerlValueCodec.Write(frame, args, Token);
        Send(AgentProtocol.Callback, frame.WrittenSpan);
        var outer = _clock.CallMonotonicNs;
        while (ReadFrame() is { } f)
        {
            if (f.Kind == AgentProtocol.CallbackResult && f.Payload.Length >= 5 && BinaryPrimitives.ReadUInt32LittleEndian(f.Payload) == seq)
            {
                var status = f.Payload[4];
                var (v, _) = PerlValueCodec.Read(f.Payload.AsSpan(5), 1, MakeRef);
                return status switch
                {
                    AgentProtocol.StatusOk => v[0],
                    AgentProtocol.StatusExited => throw new PerlExitException((int)Convert.ToInt64(v[0], CultureInfo.InvariantCulture)),
                    _ => throw new PerlException(v[0] as string ?? "the callback died\n"),
                };
            }
            Handle(f.Kind, f.Payload);   // a call the callback made
            _clock.CallMonotonicNs = outer;
        }
        throw new PerlExitException(0);   // the client went away inside its callback
    }

    private object? MakeRef(long token, PerlRefKind kind, string? className) =>
        kind == PerlRefKind.Code && token != 0 ? new RemoteRef(this, token, kind, className)
        : className is not null ? new RemoteRef(this, 0, kind, className)
        : new RemoteRef(this, 0, kind, null);

    private static long Token(IPerlRef r) => r is RemoteRef remote ? remote.Token : 0;

    private void Warn(string message)
    {
        lock (_warnings) _warnings.Add(message);
    }

    /// <summary>Once a second: the session's drain.</summary>
    public void Tick()
    {
        try
        {
            _sampler?.Tick();
        }
        catch (Exception e)
        {
            _log($"{Name}: drain failed: {e.Message}");
        }
    }

    /// <summary>
    /// The next frame; null when the client has gone. Before waiting for more bytes, it tells the
    /// client which calls it has handled (an ACK): the client forgets those, and sends the rest
    /// again should this agent die. The ACK also carries the sampler releases made since the last one;
    /// a client that samples sends SAMPLES at least every second, so a release made at a drain goes
    /// out within about a second.
    /// </summary>
    private (byte Kind, byte[] Payload)? ReadFrame()
    {
        while (true)
        {
            if (_end - _start >= 4)
            {
                var len = BinaryPrimitives.ReadInt32LittleEndian(_buf.AsSpan(_start));
                if (len < 1 || len > AgentProtocol.MaxFrame)
                    throw new FormatException($"a frame of {len} bytes");
                if (_end - _start >= 4 + len)
                {
                    var kind = _buf[_start + 4];
                    var payload = _buf.AsSpan(_start + 5, len - 1).ToArray();
                    _start += 4 + len;
                    return (kind, payload);
                }
                if (4 + len > _buf.Length)
                    Array.Resize(ref _buf, Math.Max(_buf.Length * 2, 4 + len));
            }
            if (_start > 0)
            {
                Buffer.BlockCopy(_buf, _start, _buf, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            // Releases too: a continuous session that ended at a drain (its linger over) while the program
            // makes no SDK call would otherwise leave the client sampling until its next one.
            if (_lastSeq != _ackedSeq || _sampler?.ReleasesPending == true)
                Acknowledge();
            var n = _socket.Receive(_buf, _end, _buf.Length - _end, SocketFlags.None);
            if (n == 0)
                return null;
            _end += n;
        }
    }

    private void Acknowledge()
    {
        Span<byte> ack = stackalloc byte[5];
        BinaryPrimitives.WriteUInt32LittleEndian(ack, _lastSeq);
        ack[4] = (byte)(_sampler?.TakeReleases() ?? 0);
        Send(AgentProtocol.Ack, ack);
        _ackedSeq = _lastSeq;
    }

    private bool _peerGone;

    /// <summary>
    /// Writes a frame to the client. A client that has gone (killed by a prefork server's TERM right
    /// after its request) cannot take an ACK any more, but what it wrote before it went is still in
    /// this end's buffer: writing stops, reading goes on to the end, so none of it is lost.
    /// </summary>
    private void Send(byte kind, ReadOnlySpan<byte> payload)
    {
        if (_peerGone)
            return;
        var frame = new byte[5 + payload.Length];
        BinaryPrimitives.WriteInt32LittleEndian(frame, payload.Length + 1);
        frame[4] = kind;
        payload.CopyTo(frame.AsSpan(5));
        try
        {
            _socket.Send(frame);
        }
        catch (SocketException e)
        {
            _peerGone = true;
            _log($"{Name}: the client takes no more ({e.SocketErrorCode}); reading what it sent");
        }
    }

    /// <summary>The client went away: what its session holds is sent (or cached), then it is forgotten.</summary>
    private void End()
    {
        try
        {
            _session?.Shutdown();
        }
        catch (Exception e)
        {
            _log($"{Name}: shutdown failed: {e.Message}");
        }
        if (_process is not null)
            _registry.Leave(_process);
    }

    public void Dispose() => _socket.Dispose();
}
