using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agentry.Data.Migrations.Postgres
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
                type: "character varying(12)",
                maxLength: 12,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "eval_run_id",
                table: "conversations",
                type: "character varying(40)",
                maxLength: 40,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "agent_versions",
                columns: table => new
                {
                    agent_id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    version = table.Column<int>(type: "integer", nullable: false),
                    hash = table.Column<string>(type: "character varying(12)", maxLength: 12, nullable: false),
                    definition = table.Column<string>(type: "text", nullable: false),
                    source = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    author_key_id = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: true),
                    restored_from = table.Column<int>(type: "integer", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_agent_versions", x => new { x.agent_id, x.version });
                });

            migrationBuilder.CreateTable(
                name: "eval_runs",
                columns: table => new
                {
                    id = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    status = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    key_id = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: true),
                    request = table.Column<string>(type: "text", nullable: false),
                    cases_total = table.Column<int>(type: "integer", nullable: false),
                    cases_done = table.Column<int>(type: "integer", nullable: false),
                    pass_rate = table.Column<double>(type: "double precision", nullable: true),
                    report = table.Column<string>(type: "text", nullable: true),
                    error = table.Column<string>(type: "text", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    finished_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_eval_runs", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "eval_suites",
                columns: table => new
                {
                    id = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    yaml = table.Column<string>(type: "text", nullable: false),
                    author_key_id = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
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
