namespace Agentry.Agents;

public sealed class AgentOptions
{
    public const string Section = "Agents";

    /// <summary>The folder of the bundled help-desk samples (concierge, support, sales, billing, plan-advice), next to the executable.</summary>
    public const string SamplesFolder = "agent-definitions";

    /// <summary>
    /// Folder of agent YAML files; a relative path is looked up under the content root, then next to the executable.
    /// Unset: the bundled samples, when <see cref="Samples"/> is on.
    /// </summary>
    public string? Directory { get; set; }

    /// <summary>
    /// Serve the bundled help-desk samples when no <see cref="Directory"/> of one's own is set. On by default so the
    /// first start shows something; they include a <c>refund</c> tool, so the deployment examples turn them off and a
    /// Production start that serves them says so in its log.
    /// </summary>
    public bool Samples { get; set; } = true;

    /// <summary>Reload the folder when a file changes (on in Development). POST /v1/agents:reload always works.</summary>
    public bool Watch { get; set; }

    /// <summary>Whether no folder of one's own is set: the agents are the samples, or none.</summary>
    bool NoFolderOfItsOwn => string.IsNullOrWhiteSpace(Directory) || Directory == SamplesFolder;

    public bool ServesSamples => NoFolderOfItsOwn && Samples;

    /// <summary>The folder to read, or null for none.</summary>
    public string? EffectiveDirectory => !NoFolderOfItsOwn ? Directory : Samples ? SamplesFolder : null;
}
