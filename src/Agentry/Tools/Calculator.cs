using System.Globalization;

namespace Agentry.Tools;

/// <summary>
/// A small recursive-descent evaluator for the calculator tool: models are bad at arithmetic, and evaluating
/// untrusted text with a scripting engine would be a security hole, so the grammar is only numbers and operators.
/// </summary>
public static class Calculator
{
    const int MaxLength = 500;

    public static double Evaluate(string expression)
    {
        if (string.IsNullOrWhiteSpace(expression)) throw new ArgumentException("The expression is empty.");
        if (expression.Length > MaxLength) throw new ArgumentException($"The expression is longer than {MaxLength} characters.");
        var parser = new Parser(expression);
        var value = parser.ParseExpression();
        parser.SkipSpace();
        if (!parser.AtEnd) throw new ArgumentException($"Unexpected '{parser.Current}' at position {parser.Position + 1}.");
        if (double.IsNaN(value) || double.IsInfinity(value)) throw new ArgumentException("The result is not a finite number.");
        return value;
    }

    sealed class Parser(string text)
    {
        int _depth;
        public int Position { get; private set; }
        public bool AtEnd => Position >= text.Length;
        public char Current => text[Position];

        public void SkipSpace()
        {
            while (!AtEnd && char.IsWhiteSpace(Current)) Position++;
        }

        bool Accept(char c)
        {
            SkipSpace();
            if (AtEnd || Current != c) return false;
            Position++;
            return true;
        }

        public double ParseExpression()
        {
            var value = ParseTerm();
            while (true)
            {
                if (Accept('+')) value += ParseTerm();
                else if (Accept('-')) value -= ParseTerm();
                else return value;
            }
        }

        double ParseTerm()
        {
            var value = ParsePower();
            while (true)
            {
                if (Accept('*')) value *= ParsePower();
                else if (Accept('/')) value = Divide(value, ParsePower());
                else if (Accept('%')) value %= ParsePower();
                else return value;
            }
        }

        static double Divide(double a, double b) => b == 0 ? throw new ArgumentException("Division by zero.") : a / b;

        double ParsePower()
        {
            var value = ParseUnary();
            return Accept('^') ? Math.Pow(value, ParsePower()) : value;
        }

        double ParseUnary()
        {
            if (Accept('-')) return -ParseUnary();
            if (Accept('+')) return ParseUnary();
            return ParsePrimary();
        }

        double ParsePrimary()
        {
            if (Accept('('))
            {
                if (++_depth > 50) throw new ArgumentException("Too many nested parentheses.");
                var value = ParseExpression();
                if (!Accept(')')) throw new ArgumentException("Missing ')'.");
                _depth--;
                return value;
            }
            SkipSpace();
            var start = Position;
            while (!AtEnd && (char.IsDigit(Current) || Current == '.')) Position++;
            if (start == Position) throw new ArgumentException(AtEnd ? "The expression ends too early." : $"Unexpected '{Current}' at position {Position + 1}.");
            if (!double.TryParse(text.AsSpan(start, Position - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
                throw new ArgumentException($"'{text[start..Position]}' is not a number.");
            return number;
        }
    }
}
