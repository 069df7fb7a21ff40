using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Agentry.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class KnowledgeWordsInProcess : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Retrieval scores words in process now (Knowledge/KnowledgeFullText.cs), the same on both databases: the
            // generated tsvector and its GIN index only cost writes and disk.
            migrationBuilder.Sql("DROP INDEX IF EXISTS ix_knowledge_chunks_search;");
            migrationBuilder.Sql("ALTER TABLE knowledge_chunks DROP COLUMN IF EXISTS search_vector;");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                ALTER TABLE knowledge_chunks ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
                    setweight(to_tsvector('english', section_path), 'A') || setweight(to_tsvector('english', text), 'B')) STORED;
                """);
            migrationBuilder.Sql("CREATE INDEX ix_knowledge_chunks_search ON knowledge_chunks USING GIN (search_vector);");
        }
    }
}
