package graph_test

// namingExceptions are the breaks of the naming convention the schema may still have
// (graph/naming_test.go). The list may only shrink, and it is empty: every enum value is
// UPPER_SNAKE (the four over lower_snake ent enums through graph/enum) and every mutation is
// xxx(input: XxxInput!): XxxPayload!; the older mutations are deprecated and name their
// replacement.
var namingExceptions = map[string]bool{}
