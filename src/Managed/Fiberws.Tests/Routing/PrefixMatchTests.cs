using Fiberws.Routing;
using NUnit.Framework;

namespace Fiberws.Tests.Routing
{
    /// <summary>Use(prefix) matching: whole segments only; "/" matches everything.</summary>
    [TestFixture]
    public class PrefixMatchTests
    {
        [TestCase("/ws", "/ws", true)]
        [TestCase("/ws", "/ws/", true)]
        [TestCase("/ws", "/ws/1", true)]
        [TestCase("/ws", "/ws/1/2", true)]
        [TestCase("/ws", "/WS/1", true)]
        [TestCase("/ws/", "/ws/1", true)]
        [TestCase("/ws/", "/ws", true)]
        [TestCase("/ws", "/wsx", false)]
        [TestCase("/ws", "/wsx/1", false)]
        [TestCase("/ws", "/w", false)]
        [TestCase("/ws", "/", false)]
        [TestCase("/ws", "/api/ws", false)]
        [TestCase("/api/v1", "/api/v1/x", true)]
        [TestCase("/api/v1", "/api/v10", false)]
        [TestCase("/", "/", true)]
        [TestCase("/", "/anything", true)]
        [TestCase("/", "/a/b/c", true)]
        public void Matches(string prefix, string path, bool expected)
        {
            Assert.That(PrefixMatch.Matches(prefix, path), Is.EqualTo(expected));
        }
    }
}
