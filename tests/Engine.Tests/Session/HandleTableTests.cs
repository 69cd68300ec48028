using PerlSentry.Engine.Session;

namespace PerlSentry.Engine.Tests.Session;

[TestFixture]
public sealed class HandleTableTests
{
    [Test]
    public void EngineIds_NeverReuseOneRestoredFromASnapshot()
    {
        var table = new HandleTable();
        object restored = new(), fresh = new(), client = new();
        table.Put(-3L, restored);   // as a forked child's session restores a request's transaction
        table.Put(7L, client);
        var id = table.IdOf(fresh);
        Assert.Multiple(() =>
        {
            Assert.That(id, Is.EqualTo(-4L));
            Assert.That(table.Find<object>(-3L), Is.SameAs(restored));
            Assert.That(table.Find<object>(7L), Is.SameAs(client));
            Assert.That(table.IdOf(client), Is.EqualTo(7L));
        });
    }
}
