using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agentry.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class LongTermMemory : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "conversation_summaries",
                columns: table => new
                {
                    conversation_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    text = table.Column<string>(type: "TEXT", nullable: false),
                    through_sequence = table.Column<long>(type: "INTEGER", nullable: false),
                    messages = table.Column<int>(type: "INTEGER", nullable: false),
                    method = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    updated_at = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_conversation_summaries", x => x.conversation_id);
                    table.ForeignKey(
                        name: "FK_conversation_summaries_conversations_conversation_id",
                        column: x => x.conversation_id,
                        principalTable: "conversations",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "memories",
                columns: table => new
                {
                    id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    user_id = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    agent_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    text = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: false),
                    author = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    conversation_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: true),
                    message_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: true),
                    key_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: true),
                    created_at = table.Column<string>(type: "TEXT", nullable: false),
                    superseded_by = table.Column<string>(type: "TEXT", maxLength: 40, nullable: true),
                    superseded_at = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_memories", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_memories_user",
                table: "memories",
                columns: new[] { "user_id", "created_at" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "conversation_summaries");

            migrationBuilder.DropTable(
                name: "memories");
        }
    }
}
