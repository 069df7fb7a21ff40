using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agentry.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class KnowledgeBases : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "knowledge_documents",
                columns: table => new
                {
                    id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    knowledge_base = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    name = table.Column<string>(type: "TEXT", maxLength: 255, nullable: false),
                    format = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    content_hash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    text = table.Column<string>(type: "TEXT", nullable: false),
                    bytes = table.Column<long>(type: "INTEGER", nullable: false),
                    version = table.Column<int>(type: "INTEGER", nullable: false),
                    indexed_version = table.Column<int>(type: "INTEGER", nullable: false),
                    status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    error = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: true),
                    chunk_count = table.Column<int>(type: "INTEGER", nullable: false),
                    embedding_model = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    source = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    added_by = table.Column<string>(type: "TEXT", maxLength: 40, nullable: true),
                    created_at = table.Column<string>(type: "TEXT", nullable: false),
                    updated_at = table.Column<string>(type: "TEXT", nullable: false),
                    indexed_at = table.Column<string>(type: "TEXT", nullable: true),
                    claimed_at = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_knowledge_documents", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "knowledge_chunks",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    document_id = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    knowledge_base = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    version = table.Column<int>(type: "INTEGER", nullable: false),
                    ordinal = table.Column<int>(type: "INTEGER", nullable: false),
                    section_path = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: false),
                    text = table.Column<string>(type: "TEXT", nullable: false),
                    char_start = table.Column<int>(type: "INTEGER", nullable: false),
                    char_end = table.Column<int>(type: "INTEGER", nullable: false),
                    tokens = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_knowledge_chunks", x => x.id);
                    table.ForeignKey(
                        name: "FK_knowledge_chunks_knowledge_documents_document_id",
                        column: x => x.document_id,
                        principalTable: "knowledge_documents",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_knowledge_chunks_base",
                table: "knowledge_chunks",
                column: "knowledge_base");

            migrationBuilder.CreateIndex(
                name: "ix_knowledge_chunks_document",
                table: "knowledge_chunks",
                columns: new[] { "document_id", "version" });

            migrationBuilder.CreateIndex(
                name: "ix_knowledge_documents_status",
                table: "knowledge_documents",
                columns: new[] { "status", "updated_at" });

            migrationBuilder.CreateIndex(
                name: "ux_knowledge_documents_name",
                table: "knowledge_documents",
                columns: new[] { "knowledge_base", "name" },
                unique: true);

            // Full-text search over the chunks (external content: the text is stored once, in knowledge_chunks), kept in
            // step by triggers; chunks are written and deleted, never updated in place. Porter stemming: "resetting" finds "reset".
            migrationBuilder.Sql("""
                CREATE VIRTUAL TABLE knowledge_fts USING fts5(
                    section_path, text, content='knowledge_chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');
                """);
            migrationBuilder.Sql("""
                CREATE TRIGGER knowledge_chunks_fts_insert AFTER INSERT ON knowledge_chunks BEGIN
                    INSERT INTO knowledge_fts(rowid, section_path, text) VALUES (new.id, new.section_path, new.text);
                END;
                """);
            migrationBuilder.Sql("""
                CREATE TRIGGER knowledge_chunks_fts_delete AFTER DELETE ON knowledge_chunks BEGIN
                    INSERT INTO knowledge_fts(knowledge_fts, rowid, section_path, text) VALUES ('delete', old.id, old.section_path, old.text);
                END;
                """);
            migrationBuilder.Sql("""
                CREATE TRIGGER knowledge_chunks_fts_update AFTER UPDATE ON knowledge_chunks BEGIN
                    INSERT INTO knowledge_fts(knowledge_fts, rowid, section_path, text) VALUES ('delete', old.id, old.section_path, old.text);
                    INSERT INTO knowledge_fts(rowid, section_path, text) VALUES (new.id, new.section_path, new.text);
                END;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS knowledge_chunks_fts_insert;");
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS knowledge_chunks_fts_delete;");
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS knowledge_chunks_fts_update;");
            migrationBuilder.Sql("DROP TABLE IF EXISTS knowledge_fts;");
            migrationBuilder.DropTable(
                name: "knowledge_chunks");

            migrationBuilder.DropTable(
                name: "knowledge_documents");
        }
    }
}
