using System;
using System.Collections.Generic;
using Fiberws.Routing;
using NUnit.Framework;

namespace Fiberws.Tests.Routing
{
    /// <summary>Fiber-style route patterns: ":param", ":param?", "*", "+", literals.</summary>
    [TestFixture]
    public class RoutePatternTests
    {
        private static List<KeyValuePair<string, string>> MustMatch(string pattern, string path)
        {
            List<KeyValuePair<string, string>>? p = new RoutePattern(pattern).Match(path);
            Assert.That(p, Is.Not.Null, $"'{pattern}' should match '{path}'");
            return p!;
        }

        private static string? Param(string pattern, string path, string name) => RoutePattern.Lookup(MustMatch(pattern, path), name);

        [Test]
        public void NamedParameter_IsCaptured()
        {
            Assert.That(Param("/ws/:id", "/ws/123", "id"), Is.EqualTo("123"));
            Assert.That(Param("/ws/:room/user/:name", "/ws/lobby/user/ann", "room"), Is.EqualTo("lobby"));
            Assert.That(Param("/ws/:room/user/:name", "/ws/lobby/user/ann", "name"), Is.EqualTo("ann"));
            Assert.That(Param("/ws/:id", "/ws/123", "other"), Is.Null);
        }

        [TestCase("/ws")]
        [TestCase("/ws/")]
        [TestCase("/ws/1/2")]
        [TestCase("/w/1")]
        [TestCase("/")]
        [TestCase("/wsx/1")]
        [TestCase("/ws//")]
        public void NamedParameter_NonMatches(string path)
        {
            Assert.That(new RoutePattern("/ws/:id").Match(path), Is.Null);
        }

        [Test]
        public void OptionalParameter_MayBeAbsent()
        {
            Assert.That(Param("/ws/:id?", "/ws/7", "id"), Is.EqualTo("7"));
            Assert.That(Param("/ws/:id?", "/ws", "id"), Is.EqualTo(string.Empty));
            Assert.That(Param("/ws/:id?", "/ws/", "id"), Is.EqualTo(string.Empty));
            Assert.That(new RoutePattern("/ws/:id?").Match("/ws/7/8"), Is.Null);
        }

        [Test]
        public void Star_MatchesEmptyAndMultiSegmentRest()
        {
            Assert.That(Param("/files/*", "/files", "*"), Is.EqualTo(string.Empty));
            Assert.That(Param("/files/*", "/files/", "*"), Is.EqualTo(string.Empty));
            Assert.That(Param("/files/*", "/files/a", "*"), Is.EqualTo("a"));
            Assert.That(Param("/files/*", "/files/a/b/c.txt", "*"), Is.EqualTo("a/b/c.txt"));
            Assert.That(new RoutePattern("/files/*").Match("/other/a"), Is.Null);
        }

        [Test]
        public void Star_IsAliasOfStar1()
        {
            List<KeyValuePair<string, string>> p = MustMatch("/a/*/b/*", "/a/x/y/b/z");
            Assert.That(RoutePattern.Lookup(p, "*"), Is.EqualTo("x/y"));
            Assert.That(RoutePattern.Lookup(p, "*1"), Is.EqualTo("x/y"));
            Assert.That(RoutePattern.Lookup(p, "*2"), Is.EqualTo("z"));
        }

        [Test]
        public void Plus_RequiresANonEmptyRest()
        {
            Assert.That(new RoutePattern("/files/+").Match("/files"), Is.Null);
            Assert.That(new RoutePattern("/files/+").Match("/files/"), Is.Null);
            Assert.That(Param("/files/+", "/files/a", "+"), Is.EqualTo("a"));
            Assert.That(Param("/files/+", "/files/a/b", "+1"), Is.EqualTo("a/b"));
        }

        [Test]
        public void Literals_IgnoreCase()
        {
            Assert.That(Param("/WS/:id", "/ws/Abc", "id"), Is.EqualTo("Abc"), "parameter values keep their case");
            Assert.That(new RoutePattern("/chat/room").Match("/CHAT/Room"), Is.Not.Null);
        }

        [Test]
        public void TrailingSlash_IsIgnored()
        {
            Assert.That(new RoutePattern("/chat").Match("/chat/"), Is.Not.Null);
            Assert.That(new RoutePattern("/chat/").Match("/chat"), Is.Not.Null);
            Assert.That(Param("/ws/:id", "/ws/5/", "id"), Is.EqualTo("5"));
        }

        [Test]
        public void Root_MatchesOnlyRoot()
        {
            Assert.That(new RoutePattern("/").Match("/"), Is.Not.Null);
            Assert.That(new RoutePattern("/").Match("/a"), Is.Null);
        }

        [Test]
        public void Parameters_ArePercentDecoded_ButPlusIsKept()
        {
            Assert.That(Param("/ws/:id", "/ws/a%20b", "id"), Is.EqualTo("a b"));
            Assert.That(Param("/ws/:id", "/ws/caf%C3%A9", "id"), Is.EqualTo("café"));
            Assert.That(Param("/ws/:id", "/ws/a+b", "id"), Is.EqualTo("a+b"));
            Assert.That(Param("/ws/:id", "/ws/a%2Fb", "id"), Is.EqualTo("a/b"), "an encoded slash stays inside one segment");
            Assert.That(Param("/f/*", "/f/x%20y/z", "*"), Is.EqualTo("x y/z"));
        }

        [Test]
        public void LiteralsAfterWildcard_Backtrack()
        {
            List<KeyValuePair<string, string>> p = MustMatch("/a/*/end", "/a/x/y/end");
            Assert.That(RoutePattern.Lookup(p, "*"), Is.EqualTo("x/y"));
            Assert.That(new RoutePattern("/a/*/end").Match("/a/x/y"), Is.Null);
        }

        [TestCase("ws")]
        [TestCase("/ws/:")]
        [TestCase("/ws/:id/:id")]
        [TestCase("/ws/a*b")]
        [TestCase("/ws/x:y")]
        public void InvalidPatterns_AreRefused(string pattern)
        {
            Assert.Throws<ArgumentException>(() => new RoutePattern(pattern));
        }
    }
}
