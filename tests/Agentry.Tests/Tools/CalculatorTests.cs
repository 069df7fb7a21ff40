using Agentry.Tools;

namespace Agentry.Tests.Tools;

public sealed class CalculatorTests
{
    [Theory]
    [InlineData("1+2*3", 7)]
    [InlineData("(1+2)*3", 9)]
    [InlineData("2^3^2", 512)]
    [InlineData("-4 + 10 / 4", -1.5)]
    [InlineData("17 % 5", 2)]
    [InlineData(" 12 * 25 ", 300)]
    [InlineData("0.1 + 0.2", 0.30000000000000004)]
    public void Evaluates(string expression, double expected) => Assert.Equal(expected, Calculator.Evaluate(expression));

    [Theory]
    [InlineData("", "empty")]
    [InlineData("1/0", "Division by zero")]
    [InlineData("2+", "ends too early")]
    [InlineData("(1+2", "Missing ')'")]
    [InlineData("1+2)", "Unexpected ')'")]
    [InlineData("abs(2)", "Unexpected 'a'")]
    [InlineData("1.2.3", "not a number")]
    public void Rejects_with_a_reason(string expression, string reason) =>
        Assert.Contains(reason, Assert.Throws<ArgumentException>(() => Calculator.Evaluate(expression)).Message);

    [Fact]
    public void Deep_nesting_is_refused_not_a_stack_overflow() =>
        Assert.Throws<ArgumentException>(() => Calculator.Evaluate(new string('(', 200) + "1" + new string(')', 200)));
}
