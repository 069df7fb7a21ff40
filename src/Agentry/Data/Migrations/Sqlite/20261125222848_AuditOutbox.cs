using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agentry.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class AuditOutbox : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "audit_outbox",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    time = table.Column<string>(type: "TEXT", nullable: false),
                    actor = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    client_ip = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    action = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    target = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    outcome = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    trace_id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    detail = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_audit_outbox", x => x.id);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "audit_outbox");
        }
    }
}
