/* PerlSentry::Client, the XS module that gives plain perl the engine: the agent, reached through
 * pb_client.c. PerlSentry::Client::install(\@names, $agent_command) defines Sentry::Engine::NAME
 * for each name; the Perl modules call those as they call the host's subs under perl-sentry run. */
#include "pb_client.h"
#include "pb_sample.h"
#include <string.h>

static XSPROTO(pb_xs_engine_call)
{
    dXSARGS;
    const char *name = (const char *)CvXSUBANY(cv).any_ptr;
    PUTBACK;
    I32 n = pb_client_xsub(aTHX_ name, ax, items);
    XSRETURN(n);
}

/* Closes this interpreter's connection when it is destructed (after END blocks). */
static void at_destruct(pTHX_ void *unused)
{
    (void)unused;
    pb_client_close(aTHX);
}

static XSPROTO(pb_xs_install)
{
    dXSARGS;
    if (items < 1 || !SvROK(ST(0)) || SvTYPE(SvRV(ST(0))) != SVt_PVAV)
        croak("usage: PerlSentry::Client::install(\\@names, $agent_command)");
    if (items > 1 && SvOK(ST(1)))
        pb_client_configure(SvPV_nolen(ST(1)), NULL);
    AV *names = (AV *)SvRV(ST(0));
    for (SSize_t i = 0; i <= av_top_index(names); i++) {
        SV **e = av_fetch(names, i, 0);
        if (!e || !SvOK(*e))
            continue;
        const char *short_name = SvPV_nolen(*e);
        char full[160];
        snprintf(full, sizeof full, "Sentry::Engine::%s", short_name);
        CV *sub = newXS(full, pb_xs_engine_call, __FILE__);
        CvXSUBANY(sub).any_ptr = savesharedpv(short_name);   /* lives as long as the process */
    }
    (void)pb_client_get(aTHX);
    Perl_call_atexit(aTHX_ at_destruct, NULL);
    XSRETURN_YES;
}

/* The client's agent command, as the module was built with (see Makefile.PL). */
static XSPROTO(pb_xs_default_agent)
{
    dXSARGS;
    (void)items;
#ifdef PB_AGENT_BIN
    ST(0) = sv_2mortal(newSVpv(PB_AGENT_BIN, 0));
#else
    ST(0) = &PL_sv_undef;
#endif
    XSRETURN(1);
}

PB_EXPORT XS_EXTERNAL(boot_PerlSentry__Client);
XS_EXTERNAL(boot_PerlSentry__Client)
{
    dXSBOOTARGSXSAPIVERCHK;
    (void)items;
    newXS("PerlSentry::Client::install", pb_xs_install, __FILE__);
    newXS("PerlSentry::Client::default_agent", pb_xs_default_agent, __FILE__);
    pb_client_define_subs(aTHX);
    /* Ops that block or call XS get a safe point at their end, so their time lands on the Perl sub
     * that ran them: for code compiled from here on (the program after its use Sentry::SDK). */
    pb_sample_wrap_ops();
    Perl_xs_boot_epilog(aTHX_ ax);
}
