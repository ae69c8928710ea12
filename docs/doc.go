// Package docs is idvflow's documentation; its one test checks that every
// relative link in README.md and docs/*.md resolves.
package docs
