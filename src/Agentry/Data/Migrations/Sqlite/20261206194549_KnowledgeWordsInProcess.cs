using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agentry.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class KnowledgeWordsInProcess : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Retrieval scores words in process now (Knowledge/KnowledgeFullText.cs), the same on both databases: the FTS5
            // table and the triggers that kept it in step only cost writes and disk.
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS knowledge_chunks_fts_insert;");
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS knowledge_chunks_fts_delete;");
            migrationBuilder.Sql("DROP TRIGGER IF EXISTS knowledge_chunks_fts_update;");
            migrationBuilder.Sql("DROP TABLE IF EXISTS knowledge_fts;");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE VIRTUAL TABLE knowledge_fts USING fts5(
                    section_path, text, content='knowledge_chunks', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');
                """);
            migrationBuilder.Sql("INSERT INTO knowledge_fts(knowledge_fts) VALUES ('rebuild');");
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
    }
}
