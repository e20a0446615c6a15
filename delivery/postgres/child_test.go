package postgres_test

const childEnv = "OUTBOUND_POSTGRES_KILL_CHILD"

func runChild() int { return 2 }
