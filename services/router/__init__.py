"""Router: classifies new tickets, sets their priority and team, and assigns an agent."""
