using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Agentry.Tests;

/// <summary>One parsed Server-Sent Event, with its id when it has one.</summary>
public sealed record SseEvent(string Type, JsonNode? Data, string? Id = null);
