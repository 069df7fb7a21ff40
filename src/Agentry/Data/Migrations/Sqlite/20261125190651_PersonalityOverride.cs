using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agentry.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class PersonalityOverride : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "personality_override",
                table: "conversations",
                type: "TEXT",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "personality_override",
                table: "conversations");
        }
    }
}
