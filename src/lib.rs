pub mod config;
pub mod providers;
