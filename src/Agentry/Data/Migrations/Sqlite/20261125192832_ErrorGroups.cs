using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agentry.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class ErrorGroups : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
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
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "error_groups");
        }
    }
}
