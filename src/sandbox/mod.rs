//! Sandbox servers: local emulators of Rocket.Chat and Mattermost for tests and demos.
