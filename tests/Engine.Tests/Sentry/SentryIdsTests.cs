using NUnit.Framework;
using PerlSentry.Engine.Sentry;

namespace PerlSentry.Engine.Tests.Sentry;

/// <summary>Sentry's id shapes: what counts as an id a caller gave, and the ids the SDK makes.</summary>
[TestFixture]
public sealed class SentryIdsTests
{
    [TestCase("0123456789abcdef0123456789abcdef", 32, true)]
    [TestCase("00000000000000000000000000000001", 32, true)]
    [TestCase("0123456789abcdef", 16, true)]
    [TestCase("00000000000000000000000000000000", 32, false)]   // Sentry refuses the all-zero id
    [TestCase("0123456789ABCDEF0123456789abcdef", 32, false)]   // lowercase only
    [TestCase("0123456789abcdef0123456789abcdeg", 32, false)]
    [TestCase("0123456789abcdef0123456789abcde", 32, false)]
    [TestCase("0123456789abcdef0123456789abcdef0", 32, false)]
    [TestCase("0123456789abcdef", 32, false)]
    [TestCase("01234567-89ab-cdef-0123-456789abcdef", 32, false)]
    [TestCase("", 16, false)]
    [TestCase(null, 32, false)]
    public void IsHex_TakesExactlyThatManyLowercaseHexDigits_NotAllZero(string? s, int length, bool expected) =>
        Assert.That(SentryIds.IsHex(s, length), Is.EqualTo(expected));

    [Test]
    public void NewIds_HaveTheirShapes_AndDoNotRepeat()
    {
        var events = Enumerable.Range(0, 1000).Select(_ => SentryIds.NewEventId()).ToList();
        var spans = Enumerable.Range(0, 1000).Select(_ => SentryIds.NewSpanId()).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(events, Has.All.Matches<string>(id => SentryIds.IsHex(id, 32)));
            Assert.That(spans, Has.All.Matches<string>(id => SentryIds.IsHex(id, 16)));
            Assert.That(events.Distinct().Count(), Is.EqualTo(events.Count));
            Assert.That(spans.Distinct().Count(), Is.EqualTo(spans.Count));
        });
    }

    [Test]
    public void FillRandom_FillsAllOfTheBuffer_FromTheKernel_DifferentlyEachTime()
    {
        var a = new byte[4096];
        var b = new byte[4096];
        Assert.Multiple(() =>
        {
            Assert.That(Posix.FillRandom(a), Is.True);
            Assert.That(Posix.FillRandom(b), Is.True);
            Assert.That(a, Is.Not.EqualTo(b));
            // Every 256-byte stretch was written: one left as zeros (a short read not looped) shows here.
            Assert.That(Enumerable.Range(0, 16).All(i => a.AsSpan(i * 256, 256).ContainsAnyExcept((byte)0)), Is.True);
        });
    }
}
