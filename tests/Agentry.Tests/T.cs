namespace Agentry.Tests; public class T { [Fact] public void X() => Assert.True(true); }
