//! TOML pieces the suites build their configs from. They are macros that give string literals,
//! so a config made of them is still a `const` (with `concat!`) and reads as the file it is.

/// The `web` listener on 127.0.0.1:8080.
macro_rules! web_listener {
    () => {
        "[[listeners]]\nname = \"web\"\nbind = \"127.0.0.1:8080\"\n"
    };
}

/// The `web` listener, and requests for `shop.example/api/inventory` to pool `inventory`, all
/// others to `frontend`.
macro_rules! shop_front {
    () => {
        concat!(
            web_listener!(),
            "\n[[routes]]\nhost = \"shop.example\"\npath_prefix = \"/api/inventory\"\npool = \"inventory\"\n\n[[routes]]\npool = \"frontend\"\n"
        )
    };
}

/// A server of `pool` named `name` at `address`, after a blank line.
macro_rules! server {
    ($pool:literal, $name:literal, $address:literal) => {
        concat!(
            "\n[[pools.",
            $pool,
            ".servers]]\nname = \"",
            $name,
            "\"\naddress = \"",
            $address,
            "\"\n"
        )
    };
}
