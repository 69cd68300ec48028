using PerlSentry.Bench;

// Benchmarks of the SDK as users run it (bench/run.sh): a perl script against a Sentry stand-in on
// 127.0.0.1, in-process (perl-sentry run) and through the agent (plain perl), side by side.
var command = args.Length > 0 ? args[0] : "all";
var cli = args.Length > 1 ? args[1] : "artifacts/perl-sentry/perl-sentry";
var bench = new SdkBench(Path.GetFullPath(cli));
switch (command)
{
    case "costs": bench.Costs(); break;
    case "transport": bench.Transport(); break;
    case "agent": bench.Agent(); break;
    case "engine": EngineCost.Run(); break;
    case "trickle": TrickleCost.Run(); break;   // only the transport's cost per lone envelope (hand measurements)
    case "serve":
        ServeBench.Run(Path.GetFullPath(cli), rounds: args.Length > 2 ? int.Parse(args[2]) : 3, memorySeconds: args.Length > 3 ? int.Parse(args[3]) : 60);
        break;
    case "serve-traced":   // only the traced-vs-untraced comparison (hand measurements); "profiling": traced without profiles as the baseline
        ServeBench.Run(Path.GetFullPath(cli), rounds: args.Length > 2 ? int.Parse(args[2]) : 3, memorySeconds: 0, tracedOnly: true,
            profilingOnly: args.Length > 3 && args[3] == "profiling");
        break;
    case "receiver":
        // A Sentry stand-in for hand measurements: prints its DSN, counts envelopes until Enter or EOF.
        using (var receiver = new Receiver())
        {
            Console.WriteLine(receiver.Dsn);
            Console.In.ReadToEnd();
            Console.WriteLine($"{receiver.Envelopes} envelopes");
        }
        break;
    case "all":
        bench.Costs();
        bench.Transport();
        bench.Agent();
        break;
    default:
        Console.Error.WriteLine("usage: PerlSentry.Sdk.Bench costs|transport|trickle|agent|engine|all [perl-sentry] | receiver | serve [perl-sentry [rounds [memory-seconds]]] | serve-traced [perl-sentry [rounds [profiling]]]");
        return 2;
}
return 0;
