pub mod dump {
    pub mod profile;
}
pub mod stack;
pub mod symbol;
