using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agentry.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Analytics : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
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
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "analytics_buckets");
        }
    }
}
