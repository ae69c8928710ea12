// Package integration holds the end-to-end tests: the whole service (a
// real Temporal server, the receiver over HTTP, the worker, the emulator
// and a real database) driven from outside, as a provider and an operator
// would. It has no code of its own; it stands above everything it starts.
package integration
