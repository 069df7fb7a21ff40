namespace Agentry.Operations;

/// <summary>
/// Why the service cannot start, in one line for the operator that names the setting or file to fix. Thrown where
/// settings and files are read; <see cref="StartupFailure"/> prints the message (no stack trace) and exits non-zero.
/// </summary>
public class StartupException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A list setting that must be written as a list (<c>Section:Name:0</c>, <c>Section:Name:1</c>): a comma would be ambiguous in it.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class WholeItemsAttribute : Attribute;
