package Sentry::Integration::DBI;
use strict;
use warnings;
use parent 'Sentry::Integration::Base';

our $VERSION = '0.1.0';

our $IN_STATEMENT;   # a statement's own span is open: the execute it makes inside is part of it

# DBI: a span (op db.sql.query, the SQL as its description) and a breadcrumb per do, execute and
# select*; loaded before or after init.
sub setup_once {
    my ($self) = @_;
    Sentry::Integration::when_loaded('DBI', sub {
        my $around = sub {
            my ($how) = @_;
            return sub {
                my ($orig, $h, @args) = @_;
                return $orig->($h, @args) if $IN_STATEMENT;
                my $sql = $how eq 'execute' ? $h->{Statement} : ref $args[0] ? $args[0]{Statement} : $args[0];
                my $span = Sentry::Integration::quietly(sub {
                    my $parent = $self->tracing ? Sentry::Integration::current_span() : undef;
                    return undef unless $parent && defined $sql;
                    my $dbh = $how eq 'execute' ? $h->{Database} : $h;
                    my $driver = $dbh && $dbh->{Driver} ? $dbh->{Driver}{Name} : undef;
                    my $span = $parent->start_child({ op => 'db.sql.query', description => "$sql" });
                    $span->set_data('db.system' => lc $driver) if defined $driver;
                    return $span;
                });
                local $IN_STATEMENT = 1;
                my $want = wantarray;
                my @r;
                if ($want) { @r = $orig->($h, @args) } elsif (defined $want) { $r[0] = $orig->($h, @args) } else { $orig->($h, @args) }
                Sentry::Integration::quietly(sub {
                    $span->finish if $span;
                    Sentry::SDK->add_breadcrumb({ type => 'query', category => 'query', message => "$sql" })
                        if $self->breadcrumbs && defined $sql;
                });
                return $want ? @r : $r[0];
            };
        };
        Sentry::Integration::wrap('DBI::st', 'execute', $around->('execute'));
        Sentry::Integration::wrap('DBI::db', $_, $around->('statement'))
            for qw(do selectrow_array selectrow_arrayref selectrow_hashref selectall_arrayref selectall_hashref selectcol_arrayref);
    });
    return;
}

1;
