"""PW09: every experiment of the assignment, and the build that turns them into a report."""
