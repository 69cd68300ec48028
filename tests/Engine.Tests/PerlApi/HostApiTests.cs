using PerlSentry.Engine.PerlApi;
using PerlSentry.PerlBridge;

namespace PerlSentry.Engine.Tests.PerlApi;

public sealed class HostApiTests
{
    [Test]
    public void Install_DefinesHostSubs_ThatAnswerFromTheEngine()
    {
        using var perl = PerlInterpreter.Start();
        HostApi.Install(perl);
        Assert.That(perl.Eval("PerlSentry::Host::engine_version()"), Is.EqualTo(HostApi.EngineVersion));
        Assert.That((string?)perl.Eval("PerlSentry::Host::runtime()"), Does.StartWith(".NET"));
    }

    [Test]
    public void TheSession_IsMadeAtTheFirstEngineCall_NotAtInstall()
    {
        using var perl = PerlInterpreter.Start();
        HostApi.Install(perl);
        perl.Eval("PerlSentry::Host::engine_version(); 1");
        Assert.That(SentryApi.HasSession(perl), Is.False, "a program that never calls the SDK pays for no session");
        Assert.That(perl.Eval("Sentry::Engine::is_enabled() ? 1 : 0"), Is.EqualTo(0L));
        Assert.That(SentryApi.HasSession(perl), Is.True);
    }

    [Test]
    public void TheHub_AskedForBeforeAnyEngineCall_IsTheOneTheProgramUses()
    {
        using var perl = PerlInterpreter.Start();
        HostApi.Install(perl);
        var hub = SentryApi.HubOf(perl);
        perl.Eval("Sentry::Engine::add_breadcrumb({ message => 'from perl' }); 1");
        Assert.That(SentryApi.HubOf(perl), Is.SameAs(hub));
    }

    [Test]
    public void EngineVersion_IsTheAssemblyVersion() =>
        Assert.That(HostApi.EngineVersion, Is.EqualTo("0.1.0"));
}
