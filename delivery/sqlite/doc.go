// Package sqlite is a delivery.Store in one SQLite file.
package sqlite
