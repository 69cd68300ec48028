package Sentry::Profiling::Profile;
use strict;
use warnings;
use parent -norequire, 'Sentry::Internal';
use Sentry::Internal;

our $VERSION = '0.1.0';

sub _info { Sentry::Engine::profiler_call(info => $_[0]{id}) || {} }

for my $field (qw(name start_time end_time transaction_id trace_id kind drop_reason)) {
    no strict 'refs';
    *$field = sub { $_[0]->_info->{$field} };
}

sub id { $_[0]->_info->{id} }

sub platform { 'perl' }

sub version { ($_[0]->_info->{kind} // '') eq 'continuous' ? '2' : '1' }

sub is_sent { $_[0]->_info->{sent} ? 1 : 0 }

# The payload as sent (or, while running, as it would be now).
sub _payload {
    my ($self) = @_;
    my $json = Sentry::Engine::profiler_call(payload => $self->{id});
    return undef unless defined $json;
    require JSON::PP;   # only here: loading it costs a program's start-up 10 ms
    return JSON::PP->new->utf8(0)->decode($json);
}

sub _samples { my $p = $_[0]->_payload; return $p ? $p->{profile}{samples} : [] }

*samples = \&_samples;

sub frames { my $p = $_[0]->_payload; return $p ? $p->{profile}{frames} : [] }

sub stacks { my $p = $_[0]->_payload; return $p ? $p->{profile}{stacks} : [] }

sub to_envelope_item {
    my ($self) = @_;
    my $payload = $self->_payload;
    my $type = $self->version eq '2' ? 'profile_chunk' : 'profile';
    return {
        type         => $type,
        content_type => 'application/json',
        ($type eq 'profile_chunk' ? (platform => 'perl') : ()),
        payload      => $payload,
    };
}

1;

__END__

=head1 NAME

Sentry::Profiling::Profile - one profile: its name, times, link to a transaction, and samples

=head1 SYNOPSIS

  my $profile = Sentry::SDK->start_profiler({ name => 'import' });
  import_everything();
  Sentry::SDK->stop_profiler;
  printf "%s: %d samples\n", $profile->name, scalar @{ $profile->samples };

=head1 DESCRIPTION

A handle to a profile kept by the engine.

=head2 name, start_time, end_time

Times are Unix seconds; C<end_time> is C<undef> while the profile runs.

=head2 transaction_id, trace_id

The transaction (event id) and trace the profile is linked to.

=head2 id, kind, version, platform

The profile id (v1) or profiler id (continuous); C<transaction> or C<continuous>; C<1> or C<2>; C<perl>.

=head2 samples, frames, stacks

The samples as Sentry gets them.

=head2 is_sent, drop_reason

Whether it was sent; if not, why (C<insufficient_data>: fewer than 2 samples).

=head2 to_envelope_item

The envelope item: C<type> (C<profile> or C<profile_chunk>), C<content_type> and the decoded C<payload>.

=cut
