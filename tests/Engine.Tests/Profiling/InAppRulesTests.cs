using PerlSentry.Engine.Profiling;

namespace PerlSentry.Engine.Tests.Profiling;

public sealed class InAppRulesTests
{
    private static readonly InAppRules Rules = new(["/usr/share/perl/5.36", "/usr/lib/x86_64-linux-gnu/perl/5.36/"], ["My::Vendored", "/usr/share/perl/5.36/Mine"], ["My::App::Generated"]);

    [TestCase("main", "app.pl", "/srv/app.pl", true)]
    [TestCase("List::Util", "/usr/lib/x86_64-linux-gnu/perl/5.36/List/Util.pm", null, false)]
    [TestCase("Carp", "/usr/share/perl/5.36/Carp.pm", null, false)]
    [TestCase("My::Vendored::X", "/usr/share/perl/5.36/My/Vendored/X.pm", null, true)]
    [TestCase("Mine", "/usr/share/perl/5.36/Mine/Thing.pm", null, true)]
    [TestCase("My::App::Generated", "lib/My/App/Generated.pm", "/srv/lib/My/App/Generated.pm", false)]
    [TestCase("My::App::GeneratedNot", "lib/x.pm", "/srv/lib/x.pm", true)]
    [TestCase("main", "/usr/share/perl/5.36x/odd.pl", null, true)]
    public void IsInApp_FollowsLibraryDirsAndOverrides(string module, string file, string? abs, bool expected) =>
        Assert.That(Rules.IsInApp(module, file, abs), Is.EqualTo(expected));

    [TestCase("My::Pkg::name", "My::Pkg")]
    [TestCase("My::Pkg::__ANON__[lib/My/Pkg.pm:42]", "My::Pkg")]
    [TestCase("(eval)[app.pl:3]", "")]
    [TestCase("fib", "main")]
    public void ModuleOf_TakesThePackage(string function, string module) =>
        Assert.That(ProfileFrame.ModuleOf(function), Is.EqualTo(module));
}
