using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agentry.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class EvalsAndAgentVersions : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "agent_version",
                table: "messages",
                type: "TEXT",
                maxLength: 12,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "eval_run_id",
                table: "conversations",
                type: "TEXT",
                maxLength: 40,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "agent_versions",
                columns: table => new
                {
                    agent_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    version = table.Column<int>(type: "INTEGER", nullable: false),
                    hash = table.Column<string>(type: "TEXT", maxLength: 12, nullable: false),
                    definition = table.Column<string>(type: "TEXT", nullable: false),
                    source = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    author_key_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: true),
                    restored_from = table.Column<int>(type: "INTEGER", nullable: true),
                    created_at = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_agent_versions", x => new { x.agent_id, x.version });
                });

            migrationBuilder.CreateTable(
                name: "eval_runs",
                columns: table => new
                {
                    id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    key_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: true),
                    request = table.Column<string>(type: "TEXT", nullable: false),
                    cases_total = table.Column<int>(type: "INTEGER", nullable: false),
                    cases_done = table.Column<int>(type: "INTEGER", nullable: false),
                    pass_rate = table.Column<double>(type: "REAL", nullable: true),
                    report = table.Column<string>(type: "TEXT", nullable: true),
                    error = table.Column<string>(type: "TEXT", nullable: true),
                    created_at = table.Column<string>(type: "TEXT", nullable: false),
                    finished_at = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_eval_runs", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "eval_suites",
                columns: table => new
                {
                    id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    yaml = table.Column<string>(type: "TEXT", nullable: false),
                    author_key_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: true),
                    created_at = table.Column<string>(type: "TEXT", nullable: false),
                    updated_at = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_eval_suites", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_conversations_eval_run",
                table: "conversations",
                column: "eval_run_id");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "agent_versions");

            migrationBuilder.DropTable(
                name: "eval_runs");

            migrationBuilder.DropTable(
                name: "eval_suites");

            migrationBuilder.DropIndex(
                name: "ix_conversations_eval_run",
                table: "conversations");

            migrationBuilder.DropColumn(
                name: "agent_version",
                table: "messages");

            migrationBuilder.DropColumn(
                name: "eval_run_id",
                table: "conversations");
        }
    }
}
