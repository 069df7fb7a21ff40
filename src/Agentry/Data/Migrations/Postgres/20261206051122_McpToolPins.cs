using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agentry.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class McpToolPins : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "mcp_tool_pins",
                columns: table => new
                {
                    server = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    tools = table.Column<string>(type: "text", nullable: false),
                    hash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    pinned_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    pinned_by = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    pending_tools = table.Column<string>(type: "text", nullable: true),
                    pending_hash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    pending_since = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_mcp_tool_pins", x => x.server);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "mcp_tool_pins");
        }
    }
}
