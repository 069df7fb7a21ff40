using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agentry.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class ToolCallLedger : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "tool_calls",
                columns: table => new
                {
                    id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    conversation_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    user_id = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    key_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: true),
                    agent_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    tool = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    call_id = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    arguments = table.Column<string>(type: "TEXT", nullable: false),
                    amount = table.Column<decimal>(type: "TEXT", precision: 28, scale: 8, nullable: true),
                    outcome = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    message_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: true),
                    created_at = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_tool_calls", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_tool_calls_conversation",
                table: "tool_calls",
                columns: new[] { "tool", "conversation_id" });

            migrationBuilder.CreateIndex(
                name: "ix_tool_calls_key",
                table: "tool_calls",
                columns: new[] { "tool", "key_id", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_tool_calls_user",
                table: "tool_calls",
                columns: new[] { "tool", "user_id", "created_at" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "tool_calls");
        }
    }
}
