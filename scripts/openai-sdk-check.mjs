// The official `openai` npm package against a running Agentry, with only baseURL and apiKey changed, as a team's
// existing JavaScript client would be. Run by scripts/openai-sdk-check.sh; exits 1 on the first failed check.
import OpenAI from "openai";
import assert from "node:assert/strict";

const client = new OpenAI({ baseURL: process.env.AGENTRY_BASE_URL + "/v1", apiKey: process.env.AGENTRY_KEY, maxRetries: 0 });
const checks = [];
const check = (name, run) => checks.push([name, run]);

check("models list the agents", async () => {
  const ids = [];
  for await (const model of client.models.list()) ids.push(model.id);
  assert.ok(ids.includes("support") && ids.includes("billing"), ids.join(","));
});

check("a chat completion", async () => {
  const completion = await client.chat.completions.create({
    model: "support", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello there" }], temperature: 0.2,
  });
  assert.equal(completion.object, "chat.completion");
  assert.ok(completion.choices[0].message.content.length > 0);
  assert.equal(completion.choices[0].finish_reason, "stop");
  assert.ok(completion.usage.total_tokens > 0);
});

check("a streamed chat completion with usage", async () => {
  const stream = await client.chat.completions.create({
    model: "sales", messages: [{ role: "user", content: "What plans are there?" }], stream: true, stream_options: { include_usage: true },
  });
  let text = "", finish = null, usage = null;
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta?.content) text += chunk.choices[0].delta.content;
    if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(text.length > 0);
  assert.equal(finish, "stop");
  assert.ok(usage.total_tokens > 0);
});

check("a client-side tool round trip", async () => {
  const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];
  const messages = [{ role: "user", content: '/tool get_weather {"city":"Oslo"}' }];
  const first = await client.chat.completions.create({ model: "support", messages, tools });
  assert.equal(first.choices[0].finish_reason, "tool_calls");
  const call = first.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, "get_weather");
  messages.push(first.choices[0].message, { role: "tool", tool_call_id: call.id, content: "Sunny" });
  const second = await client.chat.completions.create({ model: "support", messages, tools });
  assert.match(second.choices[0].message.content, /Sunny/);
});

check("a response, streamed, then read back", async () => {
  const stream = await client.responses.create({ model: "support", input: "Hello", stream: true });
  let text = "", id = null, last = -1;
  for await (const event of stream) {
    assert.ok(event.sequence_number > last, "sequence numbers increase");
    last = event.sequence_number;
    if (event.type === "response.output_text.delta") text += event.delta;
    if (event.type === "response.completed") id = event.response.id;
  }
  assert.ok(id && text.length > 0);
  const stored = await client.responses.retrieve(id);
  assert.equal(stored.output_text, text);
});

check("a background response polled to its end", async () => {
  let response = await client.responses.create({ model: "support", input: "Hello", background: true });
  assert.equal(response.status, "queued");
  for (let i = 0; i < 100 && (response.status === "queued" || response.status === "in_progress"); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    response = await client.responses.retrieve(response.id);
  }
  assert.equal(response.status, "completed");
});

check("errors are the SDK's error types", async () => {
  await assert.rejects(client.chat.completions.create({ model: "nobody", messages: [{ role: "user", content: "hi" }] }), OpenAI.NotFoundError);
  await assert.rejects(client.chat.completions.create({ model: "support", messages: [{ role: "user", content: "hi" }], n: 2 }), OpenAI.BadRequestError);
  const anonymous = new OpenAI({ baseURL: process.env.AGENTRY_BASE_URL + "/v1", apiKey: "agk_not-a-key", maxRetries: 0 });
  await assert.rejects(anonymous.models.list(), OpenAI.AuthenticationError);
});

let failed = 0;
for (const [name, run] of checks) {
  try {
    await run();
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.stack ?? e}`);
  }
}
console.log(`openai npm package: ${checks.length - failed} of ${checks.length} checks passed`);
process.exit(failed === 0 ? 0 : 1);
