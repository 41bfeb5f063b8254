"""The ground every package stands on: value types, settings, file and SQLite helpers, Chinese text helpers."""
