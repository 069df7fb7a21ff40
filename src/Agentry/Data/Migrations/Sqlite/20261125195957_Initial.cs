using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agentry.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "agents",
                columns: table => new
                {
                    id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    definition = table.Column<string>(type: "TEXT", nullable: false),
                    created_at = table.Column<string>(type: "TEXT", nullable: false),
                    updated_at = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_agents", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "analytics_buckets",
                columns: table => new
                {
                    day = table.Column<string>(type: "TEXT", maxLength: 10, nullable: false),
                    dimension = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    value = table.Column<string>(type: "TEXT", maxLength: 300, nullable: false),
                    requests = table.Column<long>(type: "INTEGER", nullable: false),
                    errors = table.Column<long>(type: "INTEGER", nullable: false),
                    input_tokens = table.Column<long>(type: "INTEGER", nullable: false),
                    output_tokens = table.Column<long>(type: "INTEGER", nullable: false),
                    cost_usd = table.Column<double>(type: "REAL", nullable: false),
                    latency = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_analytics_buckets", x => new { x.day, x.dimension, x.value });
                });

            migrationBuilder.CreateTable(
                name: "api_keys",
                columns: table => new
                {
                    id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    name = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    prefix = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    hash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    scopes = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    expires_at = table.Column<string>(type: "TEXT", nullable: true),
                    requests_per_minute = table.Column<int>(type: "INTEGER", nullable: true),
                    concurrent_requests = table.Column<int>(type: "INTEGER", nullable: true),
                    tokens_per_minute = table.Column<int>(type: "INTEGER", nullable: true),
                    tokens_per_day = table.Column<int>(type: "INTEGER", nullable: true),
                    created_at = table.Column<string>(type: "TEXT", nullable: false),
                    last_used_at = table.Column<string>(type: "TEXT", nullable: true),
                    revoked_at = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_api_keys", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "audit_events",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false),
                    time = table.Column<string>(type: "TEXT", nullable: false),
                    actor = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    client_ip = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    action = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    target = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    outcome = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    trace_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    count = table.Column<int>(type: "INTEGER", nullable: false),
                    detail = table.Column<string>(type: "TEXT", nullable: true),
                    previous_hash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    hash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_audit_events", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "conversations",
                columns: table => new
                {
                    id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    agent_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    user_id = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    title = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    metadata = table.Column<string>(type: "TEXT", nullable: true),
                    created_at = table.Column<string>(type: "TEXT", nullable: false),
                    updated_at = table.Column<string>(type: "TEXT", nullable: false),
                    last_sequence = table.Column<long>(type: "INTEGER", nullable: false),
                    owner_key_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: true),
                    personality_override = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_conversations", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "error_groups",
                columns: table => new
                {
                    fingerprint = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    kind = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    type = table.Column<string>(type: "TEXT", maxLength: 300, nullable: false),
                    frames = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: true),
                    count = table.Column<long>(type: "INTEGER", nullable: false),
                    first_seen = table.Column<string>(type: "TEXT", nullable: false),
                    last_seen = table.Column<string>(type: "TEXT", nullable: false),
                    sample_trace_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    last_message = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_error_groups", x => x.fingerprint);
                });

            migrationBuilder.CreateTable(
                name: "approvals",
                columns: table => new
                {
                    id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    conversation_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    agent_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    tool_name = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    call_id = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    arguments = table.Column<string>(type: "TEXT", nullable: false),
                    rule_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    created_at = table.Column<string>(type: "TEXT", nullable: false),
                    decided_at = table.Column<string>(type: "TEXT", nullable: true),
                    decided_by = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    note = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_approvals", x => x.id);
                    table.ForeignKey(
                        name: "FK_approvals_conversations_conversation_id",
                        column: x => x.conversation_id,
                        principalTable: "conversations",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "messages",
                columns: table => new
                {
                    id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    conversation_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    sequence = table.Column<long>(type: "INTEGER", nullable: false),
                    role = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    agent_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    content = table.Column<string>(type: "TEXT", nullable: false),
                    model = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    input_tokens = table.Column<int>(type: "INTEGER", nullable: true),
                    output_tokens = table.Column<int>(type: "INTEGER", nullable: true),
                    latency_ms = table.Column<int>(type: "INTEGER", nullable: true),
                    finish_reason = table.Column<string>(type: "TEXT", maxLength: 32, nullable: true),
                    status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    metadata = table.Column<string>(type: "TEXT", nullable: true),
                    created_at = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_messages", x => x.id);
                    table.ForeignKey(
                        name: "FK_messages_conversations_conversation_id",
                        column: x => x.conversation_id,
                        principalTable: "conversations",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ux_api_keys_hash",
                table: "api_keys",
                column: "hash",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_approvals_conversation_status",
                table: "approvals",
                columns: new[] { "conversation_id", "status" });

            migrationBuilder.CreateIndex(
                name: "ix_approvals_status",
                table: "approvals",
                columns: new[] { "status", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_audit_events_action",
                table: "audit_events",
                columns: new[] { "action", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_audit_events_actor",
                table: "audit_events",
                columns: new[] { "actor", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_conversations_agent",
                table: "conversations",
                columns: new[] { "agent_id", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_conversations_owner",
                table: "conversations",
                columns: new[] { "owner_key_id", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_conversations_user",
                table: "conversations",
                columns: new[] { "user_id", "id" });

            migrationBuilder.CreateIndex(
                name: "ux_messages_conversation_sequence",
                table: "messages",
                columns: new[] { "conversation_id", "sequence" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "agents");

            migrationBuilder.DropTable(
                name: "analytics_buckets");

            migrationBuilder.DropTable(
                name: "api_keys");

            migrationBuilder.DropTable(
                name: "approvals");

            migrationBuilder.DropTable(
                name: "audit_events");

            migrationBuilder.DropTable(
                name: "error_groups");

            migrationBuilder.DropTable(
                name: "messages");

            migrationBuilder.DropTable(
                name: "conversations");
        }
    }
}
