//! Templates: `{attr}`, fallbacks `{displayName|cn}`, filters `{mail|lower}`.
