package readapi

// WarmStatements are the statements WarmUp plans.
var WarmStatements = warmStatements
