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
    public void EngineVersion_IsTheAssemblyVersion() =>
        Assert.That(HostApi.EngineVersion, Is.EqualTo("0.1.0"));
}
