import numpy as np
import pytest

from rlkit.episodes import EpisodeQuotas, EpisodeTracker


def test_an_episode_runs_across_learning_terminations_until_its_end():
    """Atari's episodic life: lost lives terminate but end no episode; the tracker sums the game."""
    tracker = EpisodeTracker(2)
    no, yes = np.array([False, False]), np.array([True, False])
    steps = [  # (rewards [E], episode_end [E], is_reset_step [E]); env 0 loses a life after step 2
        ([1.0, 2.0], no, no), ([3.0, 0.0], no, no),
        ([0.0, 1.0], no, yes),  # env 0's reset step: the game goes on, nothing counted
        ([5.0, 0.0], yes, no),  # env 0's game over
        ([0.0, 4.0], no, yes),
    ]
    for rewards, end, reset in steps:
        tracker.step(np.array(rewards), end, reset)
    assert list(tracker.recent_returns) == [9.0] and list(tracker.recent_lengths) == [3]
    assert tracker.returns.tolist() == [0.0, 7.0] and tracker.lengths.tolist() == [0, 5]


def test_an_episode_that_ends_on_a_reset_step_is_closed_with_its_transitions_only():
    # the restart step after a lost life ended the game (the frame cap): the env says so on the reset step
    tracker = EpisodeTracker(1)
    tracker.step(np.array([2.0]), np.array([False]), np.array([False]))  # a transition that lost a life
    tracker.step(np.array([0.0]), np.array([True]), np.array([True]))  # its reset step: the game ended
    tracker.step(np.array([1.0]), np.array([False]), np.array([False]))  # the next game
    assert list(tracker.recent_returns) == [2.0] and list(tracker.recent_lengths) == [1]
    assert tracker.num_episodes == 1 and tracker.returns.tolist() == [1.0]
    assert tracker.summary()["train/episode_return_mean"] == pytest.approx(2.0)


def test_the_finished_episodes_round_trip_through_a_checkpoint():
    tracker = EpisodeTracker(1)
    for reward, end in ((2.0, False), (3.0, True), (4.0, True), (6.0, False)):
        tracker.step(np.array([reward]), np.array([end]), np.array([False]))
    restored = EpisodeTracker(1)
    restored.load_state_dict(tracker.state_dict())
    assert restored.summary() == tracker.summary() == {
        "train/episode_return_mean": 4.5, "train/episode_return_median": 4.5, "train/episode_return_max": 5.0,
        "train/episode_length_mean": 1.5, "train/episodes": 2}
    # the game under way is not saved: a resumed run resets its envs and starts new games
    assert tracker.returns.tolist() == [6.0] and restored.returns.tolist() == [0.0]


def test_episode_quotas_split_the_episodes_and_skip_reset_steps():
    quotas = EpisodeQuotas(num_envs=3, num_episodes=7)
    assert quotas.quotas.tolist() == [3, 2, 2]
    quotas = EpisodeQuotas(num_envs=2, num_episodes=3)  # quotas [2, 1]
    no, both = np.array([False, False]), np.array([True, True])
    steps = [  # (rewards [E], terminated [E], truncated [E])
        ([1.0, 2.0], no, no),
        ([3.0, 4.0], no, both),  # both end: (4, 2) and (6, 2)
        ([50.0, 50.0], no, no),  # both reset steps: in no episode
        ([5.0, 7.0], both, no),  # env 0's second (5, 1); env 1's second is over its quota
    ]
    counted = [quotas.step(np.array(r), term, trunc) for r, term, trunc in steps]
    assert counted == [[], [(4.0, 2), (6.0, 2)], [], [(5.0, 1)]]
    assert quotas.complete and not quotas.wants(0) and not quotas.wants(1)
    assert quotas.is_reset_step.tolist() == [True, True] and quotas.returns.tolist() == [0.0, 0.0]
    assert not EpisodeQuotas(2, 3).complete and EpisodeQuotas(2, 3).wants(1)
