// See register.mjs: retry an extension-less relative or `…/dist/…` specifier with `.js`.
export async function resolve(specifier, context, next) {
    try {
        return await next(specifier, context);
    } catch (err) {
        const retry =
            (specifier.startsWith('.') || /^[^./][^:]*\/dist\//.test(specifier)) && !specifier.endsWith('.js');
        if (!retry) {
            throw err;
        }
        return next(`${specifier}.js`, context);
    }
}
