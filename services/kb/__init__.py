"""Knowledge base: multilingual articles, search and suggestions for new tickets."""
