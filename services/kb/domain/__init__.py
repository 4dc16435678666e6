"""The knowledge base's pure logic: articles and their versions, canned responses, the text
analysis and snippets of the search, the join of opened and routed tickets, and the reports."""
